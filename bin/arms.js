#!/usr/bin/env node
require("../dist/bundles/arms.js");
