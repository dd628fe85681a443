#!/usr/bin/env node
require("../dist/bundles/armrsp.js");
