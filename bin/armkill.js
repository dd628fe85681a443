#!/usr/bin/env node
require("../dist/bundles/armkill.js");
