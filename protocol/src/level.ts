// Loudness of 16-bit audio, used on both sides of the line: the core's speech gate, the speech
// emulator's utterance detector, and the tests that check an answer is speech, not silence.

/** RMS level of 16-bit samples in dBFS (-Infinity for digital silence). */
export function levelDbfs(pcm: Int16Array): number {
  let sum = 0;
  for (let i = 0; i < pcm.length; i++) sum += pcm[i]! * pcm[i]!;
  return 10 * Math.log10(sum / Math.max(1, pcm.length) / (32768 * 32768));
}
