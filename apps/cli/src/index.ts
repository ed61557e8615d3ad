// Public API of @flagraft/cli: the CLI as a function (tests and scripts run
// it in-process) and the small HTTP client it is built on.
export { runCli, helpText, COMMANDS, VERSION, DEFAULT_URL } from './cli.js';
export type { CliIo } from './cli.js';
export { ExitCode, CliError, exitCodeForStatus } from './errors.js';
export { createApiClient, MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT_MS } from './http.js';
export type { ApiClient, ApiClientOptions, ApiResponse } from './http.js';
export { formatTable } from './table.js';
export { BACKUP_FORMAT, checkBackup, readBackupFile, writeBackupFile, MAX_BACKUP_FILE_BYTES } from './backup-file.js';
