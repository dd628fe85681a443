#!/usr/bin/env node
require("../dist/bundles/armdown.js");
