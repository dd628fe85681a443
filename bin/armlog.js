#!/usr/bin/env node
require("../dist/commands/cmdline.js").main(require("../dist/commands/armlog.js").command);
