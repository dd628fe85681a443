#!/usr/bin/env node
require("../dist/commands/arms/main.js");
