// The OS's own commands for ARMDOWN, used unless the config's `power:` says otherwise.
export type PowerAction = 'shutdown' | 'reboot' | 'poweroff';

export function defaultPowerCommands(platform: NodeJS.Platform = process.platform): Record<PowerAction, string> {
  if (platform === 'win32') return { shutdown: 'shutdown /s /t 0', reboot: 'shutdown /r /t 0', poweroff: 'shutdown /p' };
  return { shutdown: 'systemctl poweroff', reboot: 'systemctl reboot', poweroff: 'systemctl poweroff' };
}
