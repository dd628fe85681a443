#!/usr/bin/env node
require("../dist/commands/armrsp.js");
