#!/usr/bin/env node
require("../dist/bundles/armfover.js");
