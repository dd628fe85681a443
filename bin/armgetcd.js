#!/usr/bin/env node
require("../dist/bundles/armgetcd.js");
