package dev.capsulevm.vm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.program.DataRef;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

class ProgramDataProperties {
  /**
   * However the data is chunked and whatever references are read in offset order, each read returns the
   * right bytes, and releasing behind the reader keeps the buffer within one reference plus one chunk.
   */
  @Property(tries = 300)
  void chunkedDataReadsBackExactlyWithinTheLimit(
      @ForAll @IntRange(min = 1, max = 2000) int total,
      @ForAll @Size(min = 1, max = 50) List<@IntRange(min = 1, max = 64) Integer> chunkSizes,
      @ForAll long seed) throws Exception {
    byte[] all = new byte[total];
    new Random(seed).nextBytes(all);
    int maxRef = 100;
    int maxChunk = 64;
    ProgramData data = new ProgramData(total, maxRef + maxChunk);
    Random random = new Random(seed ^ 0x5eed);
    int sent = 0;
    int chunkIndex = 0;
    int offset = 0;
    while (offset < total) {
      int length = Math.min(total - offset, random.nextInt(maxRef + 1));
      DataRef ref = new DataRef(offset, length);
      while (sent < ref.end()) {
        int n = Math.min(chunkSizes.get(chunkIndex++ % chunkSizes.size()), total - sent);
        data.append(Arrays.copyOfRange(all, sent, sent + n));
        sent += n;
        assertTrue(data.buffered() <= data.maxBufferedBytes());
      }
      assertArrayEquals(Arrays.copyOfRange(all, offset, offset + length), data.awaitBytes(ref, Duration.ZERO));
      offset += length + random.nextInt(20);
      data.releaseBefore(offset);
    }
  }
}
