#!/usr/bin/env node
require("../dist/commands/armfover.js");
