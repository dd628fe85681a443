export const VERSION: string = require('../package.json').version;
