#!/usr/bin/env node
require("../dist/commands/armkill.js");
