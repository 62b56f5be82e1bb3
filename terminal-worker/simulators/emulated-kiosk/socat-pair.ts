/**
 * A serial line for an emulated device: a socat pseudo-terminal pair, raw, no echo (as a USB-serial
 * port would be). The emulator opens `deviceSide`, the driver `hostSide`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export async function startSocatPair(deviceSide: string, hostSide: string): Promise<ChildProcess> {
  for (const link of [deviceSide, hostSide]) fs.rmSync(link, { force: true });
  const socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${deviceSide}`, `pty,raw,echo=0,link=${hostSide}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let socatErr = '';
  socat.stderr!.on('data', (d) => (socatErr += d));
  const spawnFailed = new Promise<never>((_, reject) => socat.once('error', (err) => reject(new Error(`cannot run socat (run scripts/ensure-serial-tools.sh): ${err.message}`))));
  const linked = (async () => {
    for (let i = 0; i < 200; i++) {
      if (fs.existsSync(deviceSide) && fs.existsSync(hostSide)) return;
      if (socat.exitCode !== null) throw new Error(`socat exited: ${socatErr}`);
      await sleep(25);
    }
    throw new Error(`socat made no pty pair within 5 s: ${socatErr}`);
  })();
  try {
    await Promise.race([linked, spawnFailed]);
  } catch (err) {
    socat.kill('SIGKILL');
    throw err;
  }
  return socat;
}

export async function stopSocat(socat: ChildProcess | null): Promise<void> {
  if (!socat || socat.exitCode !== null || socat.signalCode !== null) return;
  const exited = new Promise((r) => socat.once('exit', r));
  socat.kill('SIGTERM');
  await exited;
}
