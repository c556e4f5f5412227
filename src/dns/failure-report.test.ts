// The growth of DNS failure totals between two looks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newFailures } from './failure-report.js';

test('reports only the failures that appeared since the last look', () => {
  assert.deepEqual(newFailures({}, {}), {});
  assert.deepEqual(newFailures({}, { ETIMEOUT: 2 }), { ETIMEOUT: 2 });
  assert.deepEqual(newFailures({ ETIMEOUT: 2, ESERVFAIL: 1 }, { ETIMEOUT: 5, ESERVFAIL: 1, EREFUSED: 1 }), { ETIMEOUT: 3, EREFUSED: 1 });
  assert.deepEqual(newFailures({ ETIMEOUT: 5 }, { ETIMEOUT: 1 }), {}, 'a new resolver (reload) starts from zero');
});
