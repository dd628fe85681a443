#!/usr/bin/env node
require("../dist/bundles/armbcast.js");
