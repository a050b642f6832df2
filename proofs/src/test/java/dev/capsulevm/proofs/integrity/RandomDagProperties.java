package dev.capsulevm.proofs.integrity;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.capsule.TestCapsule;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/**
 * Random DAGs of forks and merges: every record is provable from every head that descends from it,
 * with and without a cache, and a proof for one record never passes as a proof for another.
 */
class RandomDagProperties {
  @Property(tries = 40)
  void everyAncestor_provableFromHead(@ForAll long seed, @ForAll @IntRange(min = 2, max = 120) int size)
      throws VerificationException {
    Random random = new Random(seed);
    TestCapsule capsule = new TestCapsule(SigningPolicy.EVERY_RECORD);
    List<Hash> tips = new ArrayList<>();
    tips.add(capsule.id());
    for (int i = 0; i < size; i++) {
      int choice = random.nextInt(10);
      Hash parent = tips.get(random.nextInt(tips.size()));
      if (choice < 2 && !capsule.records.isEmpty()) {
        // fork: continue from an older record, leaving the current tip as another head
        Hash old = capsule.records.get(random.nextInt(capsule.records.size())).hash();
        tips.add(capsule.append(List.of(old), TestCapsule.payloads("f" + i, 1)).hash());
      } else if (choice < 4 && tips.size() > 1) {
        // merge two heads
        Hash a = tips.remove(random.nextInt(tips.size()));
        Hash b = tips.remove(random.nextInt(tips.size()));
        if (a.equals(capsule.id()) || b.equals(capsule.id())) {
          tips.add(capsule.append(List.of(a.equals(capsule.id()) ? b : a), TestCapsule.payloads("x" + i, 1)).hash());
          if (!a.equals(capsule.id()) && !b.equals(capsule.id())) {
            tips.add(b);
          }
        } else {
          tips.add(capsule.append(List.of(a, b), TestCapsule.payloads("m" + i, 1)).hash());
        }
      } else {
        tips.remove(parent);
        tips.add(capsule.append(List.of(parent), TestCapsule.payloads("c" + i, 2)).hash());
      }
    }
    // One final merge of every tip makes a single head that descends from everything.
    List<Hash> heads = new ArrayList<>(tips);
    heads.remove(capsule.id());
    RecordWithBody head = capsule.append(heads.isEmpty() ? List.of(capsule.id()) : heads, TestCapsule.payloads("head", 1));
    ProofGenerator generator = new ProofGenerator(capsule.source);
    ProofVerifier plain = new ProofVerifier(null);
    ProofCache cache = new ProofCache(16);
    ProofVerifier cached = new ProofVerifier(cache);
    cached.trust(head.record().header());
    for (RecordWithBody record : capsule.records) {
      RecordProof proof = generator.recordProof(head.hash(), record.hash());
      assertEquals(record.hash(), plain.verifyRecord(head.hash(), record.hash(), proof).hash());
      assertEquals(record.hash(), cached.verifyRecord(head.hash(), record.hash(), proof).hash());
      RecordWithBody other = capsule.records.get(random.nextInt(capsule.records.size()));
      if (!other.hash().equals(record.hash())) {
        assertThrows(VerificationException.class, () -> plain.verifyRecord(head.hash(), other.hash(), proof));
      }
    }
  }
}
