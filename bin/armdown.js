#!/usr/bin/env node
require("../dist/commands/armdown.js");
