#!/usr/bin/env node
require("../dist/commands/cmdline.js").main(require("../dist/commands/armsleep.js").command);
