/** "1 turn", "3 turns": counts in messages read as English. */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
