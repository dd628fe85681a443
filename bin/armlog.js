#!/usr/bin/env node
require("../dist/bundles/armlog.js");
