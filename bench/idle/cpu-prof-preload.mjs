// Loaded with NODE_OPTIONS=--import=<this file> (Node 20 refuses --cpu-prof
// in NODE_OPTIONS): on SIGUSR2 starts the inspector's CPU profiler (so start-up
// compilation stays out of an idle profile) and writes
// <FLAGRAFT_CPU_PROF_DIR>/<pid>.cpuprofile when the process exits. Same-thread
// inspector sessions answer synchronously, so the 'exit' handler can finish.
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.env.FLAGRAFT_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  let started = false;
  process.on('SIGUSR2', () => { if (!started) { started = true; session.post('Profiler.start'); } });
  process.once('exit', () => {
    if (!started) return;
    session.post('Profiler.stop', (err, res) => {
      if (!err) writeFileSync(path.join(dir, `${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}
