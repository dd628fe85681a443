#!/usr/bin/env node
require("../dist/bundles/armload.js");
