#!/usr/bin/env node
require("../dist/bundles/armsleep.js");
