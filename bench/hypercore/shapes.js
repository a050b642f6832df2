// Hypercore's side of `bin/capsulevm bench vs-hypercore`: runs one shape on fresh cores in a temporary
// directory and prints one line of JSON, {"shape", "count", "ms"}, after an untimed run at a tenth of the size. The Java runner (VsHypercoreExperiment)
// starts one process per shape and round, so both sides start cold in the same way.
//
//   node shapes.js SHAPE COUNT BLOCK_BYTES
//
// Shapes (blocks of BLOCK_BYTES bytes, Hypercore's own storage, which does not fsync):
//   append-awaited   COUNT appends of one block, each awaited before the next
//   append-pipelined COUNT appends of one block, all issued before any is awaited
//   append-batch64   COUNT blocks appended 64 per append call
//   download         a writer appends COUNT blocks (64 per call); a fresh replica replicates them over an
//                    in-process stream pair and downloads them all, verifying each (timed: the download)
//   read-single      a sparse replica of a 4,096-block core gets COUNT distinct blocks, one awaited get
//                    each (each is requested, proven by the writer and verified)
'use strict'

const Hypercore = require('hypercore')
const fs = require('fs')
const os = require('os')
const path = require('path')

const BATCH = 64
const READ_CORE_BLOCKS = 4096

function blocks (count, size, from = 0) {
  const out = []
  for (let i = 0; i < count; i++) {
    const b = Buffer.alloc(size)
    b.writeUInt32LE((from + i) >>> 0, 0)
    out.push(b)
  }
  return out
}

async function appendInBatches (core, count, size) {
  for (let i = 0; i < count; i += BATCH) {
    await core.append(blocks(Math.min(BATCH, count - i), size, i))
  }
}

function replicate (a, b) {
  const s1 = a.replicate(true)
  const s2 = b.replicate(false)
  s1.pipe(s2).pipe(s1)
}

async function run (shape, count, size, dir) {
  const writer = new Hypercore(path.join(dir, 'writer'))
  await writer.ready()
  const opened = [writer]
  try {
    let start
    switch (shape) {
      case 'append-awaited': {
        const data = blocks(count, size)
        start = process.hrtime.bigint()
        for (const b of data) await writer.append(b)
        break
      }
      case 'append-pipelined': {
        const data = blocks(count, size)
        start = process.hrtime.bigint()
        await Promise.all(data.map((b) => writer.append(b)))
        break
      }
      case 'append-batch64': {
        const data = blocks(count, size)
        start = process.hrtime.bigint()
        for (let i = 0; i < count; i += BATCH) await writer.append(data.slice(i, i + BATCH))
        break
      }
      case 'download': {
        await appendInBatches(writer, count, size)
        const replica = new Hypercore(path.join(dir, 'replica'), writer.key)
        opened.push(replica)
        await replica.ready()
        start = process.hrtime.bigint()
        replicate(writer, replica)
        await replica.update({ wait: true })
        await replica.download({ start: 0, end: count }).done()
        if (replica.contiguousLength !== count) throw new Error('replica holds ' + replica.contiguousLength + ' blocks')
        break
      }
      case 'read-single': {
        if (count > READ_CORE_BLOCKS) throw new Error('at most ' + READ_CORE_BLOCKS + ' reads')
        await appendInBatches(writer, READ_CORE_BLOCKS, size)
        const replica = new Hypercore(path.join(dir, 'replica'), writer.key, { sparse: true })
        opened.push(replica)
        await replica.ready()
        replicate(writer, replica)
        await replica.update({ wait: true })
        // distinct blocks, spread over the core: every get fetches and verifies a block it lacks
        const stride = Math.floor(READ_CORE_BLOCKS / count)
        start = process.hrtime.bigint()
        for (let i = 0; i < count; i++) {
          const block = await replica.get(i * stride)
          if (block.length !== size) throw new Error('block ' + i * stride + ' has ' + block.length + ' bytes')
        }
        break
      }
      default:
        throw new Error('unknown shape ' + shape)
    }
    const ms = Number(process.hrtime.bigint() - start) / 1e6
    return { shape, count, ms }
  } finally {
    for (const core of opened.reverse()) await core.close()
  }
}

async function main () {
  const [shape, countText, sizeText] = process.argv.slice(2)
  const count = Number(countText)
  const size = Number(sizeText)
  if (!shape || !(count > 0) || !(size >= 4)) {
    throw new Error('usage: node shapes.js SHAPE COUNT BLOCK_BYTES')
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capsulevm-hypercore-'))
  try {
    // one untimed run at a tenth of the size first, so the timed one runs warm, as the JVM's side does
    const warm = Math.max(BATCH, Math.floor(count / 10 / BATCH) * BATCH)
    await run(shape, Math.min(count, warm), size, path.join(dir, 'warm-up'))
    console.log(JSON.stringify(await run(shape, count, size, path.join(dir, 'timed'))))
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((e) => {
  console.error('hypercore shape failed: ' + (e && e.message ? e.message : e))
  process.exit(1)
})
