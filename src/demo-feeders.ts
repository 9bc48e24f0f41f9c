/** The demo's second half: what each feeder would write for the seed data (filled in once the feeders land). */
export function demoFeeders(_root: string): void {}
