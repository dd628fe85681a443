#!/usr/bin/env node
require("../dist/bundles/armsetcd.js");
