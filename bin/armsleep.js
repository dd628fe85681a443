#!/usr/bin/env node
require("../dist/commands/armsleep.js");
