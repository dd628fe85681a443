#!/usr/bin/env node
require("../dist/commands/armbcast.js");
