#!/usr/bin/env node
require("../dist/commands/armload.js");
