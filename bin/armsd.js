#!/usr/bin/env node
require("../dist/service/main.js");
