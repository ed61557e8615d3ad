// Public API of @flagraft/torture: run a scenario programmatically (the CLI and the CI test use it).
export { runScenario, type RunOptions, type RunReport } from './run.js';
export { SCENARIOS, scenarioByName, type Scenario } from './scenarios.js';
export { Link, LinkMesh, type LinkFaults } from './proxy.js';
export { formatReport } from './report.js';
