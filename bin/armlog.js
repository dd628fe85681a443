#!/usr/bin/env node
require("../dist/commands/armlog.js");
