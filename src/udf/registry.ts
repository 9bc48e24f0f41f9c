/** The only list of functions the sidecar serves. Each is served as `name` (stream) and `nameBatch` (batch). */
import { type ServedFunction, servedVariants, type UdfDefinition } from '../agent/handler.js';
import { edgeDetect } from './edge-detect.js';
import { increase } from './increase.js';
import { movingAverage } from './moving-average.js';
import { rate } from './rate.js';

export const definitions: UdfDefinition[] = [edgeDetect, movingAverage, rate, increase];

export const servedFunctions: ServedFunction[] = definitions.flatMap(servedVariants);

export function findFunction(name: string): ServedFunction {
  const fn = servedFunctions.find((f) => f.name === name);
  if (!fn) {
    throw new Error(`unknown function ${name} (known: ${servedFunctions.map((f) => f.name).join(', ')})`);
  }
  return fn;
}
