#!/usr/bin/env node
require("../dist/commands/armgetcd.js");
