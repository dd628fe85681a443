#!/usr/bin/env node
require("../dist/commands/armsetcd.js");
