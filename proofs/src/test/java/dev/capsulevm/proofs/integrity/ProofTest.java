package dev.capsulevm.proofs.integrity;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.capsule.TestCapsule;
import dev.capsulevm.proofs.merkle.MerkleTree;
import java.util.ArrayList;
import java.util.List;
import java.util.NoSuchElementException;
import org.junit.jupiter.api.Test;

class ProofTest {
  private final TestCapsule capsule = new TestCapsule(SigningPolicy.EVERY_RECORD);
  private final ProofGenerator generator = new ProofGenerator(capsule.source);

  @Test
  void recordProof_chain_everyRecordFromHead_verifiesInLogSteps() throws Exception {
    RecordWithBody head = capsule.chain(capsule.id(), 1000, "c");
    ProofVerifier verifier = new ProofVerifier(null);
    for (RecordWithBody record : capsule.records) {
      RecordProof proof = generator.recordProof(head.hash(), record.hash());
      RecordHeader proven = verifier.verifyRecord(head.hash(), record.hash(), proof);
      assertEquals(record.hash(), proven.hash());
      long distance = head.record().header().height() - proven.height();
      int bound = 2 * (64 - Long.numberOfLeadingZeros(distance)) + 1;
      assertTrue(proof.headers().size() <= bound,
          "distance " + distance + " took " + proof.headers().size() + " headers, bound " + bound);
    }
  }

  @Test
  void recordProof_anyFlippedByte_rejected() throws Exception {
    RecordWithBody head = capsule.chain(capsule.id(), 40, "t");
    Hash target = capsule.records.get(3).hash();
    RecordProof proof = generator.recordProof(head.hash(), target);
    List<String> accepted = new ArrayList<>();
    for (int h = 0; h < proof.headers().size(); h++) {
      byte[] encoded = proof.headers().get(h).encoded();
      for (int i = 0; i < encoded.length; i++) {
        List<byte[]> headers = new ArrayList<>();
        proof.headers().forEach(x -> headers.add(x.encoded()));
        headers.get(h)[i] ^= 0x01;
        try {
          new ProofVerifier(null).verifyRecord(head.hash(), target, RecordProof.parse(headers));
          accepted.add("header " + h + " byte " + i);
        } catch (VerificationException expected) {
          // the flip breaks a hash link, the target, or the encoding
        }
      }
    }
    assertEquals(List.of(), accepted);
  }

  @Test
  void recordProof_droppedOrReorderedHeader_rejected() throws Exception {
    RecordWithBody head = capsule.chain(capsule.id(), 20, "d");
    Hash target = capsule.records.get(1).hash();
    List<RecordHeader> headers = generator.recordProof(head.hash(), target).headers();
    assertTrue(headers.size() >= 3);
    List<RecordHeader> dropped = new ArrayList<>(headers);
    dropped.remove(1);
    VerificationException e = assertThrows(VerificationException.class,
        () -> new ProofVerifier(null).verifyRecord(head.hash(), target, new RecordProof(dropped)));
    assertEquals(Failure.BROKEN_PATH, e.failure());
    VerificationException anchor = assertThrows(VerificationException.class,
        () -> new ProofVerifier(null).verifyRecord(
            capsule.records.get(5).hash(), target, new RecordProof(headers)));
    assertEquals(Failure.UNTRUSTED_ANCHOR, anchor.failure());
    VerificationException wrongTarget = assertThrows(VerificationException.class,
        () -> new ProofVerifier(null).verifyRecord(head.hash(), capsule.records.get(2).hash(), new RecordProof(headers)));
    assertEquals(Failure.WRONG_TARGET, wrongTarget.failure());
  }

  @Test
  void recordProof_forkAndMerge_bothBranchesProvable() throws Exception {
    RecordWithBody base = capsule.chain(capsule.id(), 10, "base");
    RecordWithBody left = capsule.chain(base.hash(), 7, "left");
    RecordWithBody right = capsule.chain(base.hash(), 3, "right");
    RecordWithBody merge = capsule.append(List.of(left.hash(), right.hash()), TestCapsule.payloads("merge", 1));
    RecordWithBody head = capsule.chain(merge.hash(), 5, "after");
    ProofVerifier verifier = new ProofVerifier(null);
    for (RecordWithBody record : capsule.records) {
      if (record == head) {
        continue;
      }
      RecordProof proof = generator.recordProof(head.hash(), record.hash());
      assertEquals(record.hash(), verifier.verifyRecord(head.hash(), record.hash(), proof).hash());
    }
    assertThrows(NoSuchElementException.class, () -> generator.recordProof(left.hash(), right.hash()));
  }

  @Test
  void subRecordProof_everyIndex_verifiesAndRejectsOtherPayload() throws Exception {
    List<byte[]> payloads = TestCapsule.payloads("leaf", 37);
    RecordWithBody record = capsule.append(List.of(capsule.id()), payloads);
    RecordWithBody head = capsule.chain(record.hash(), 9, "h");
    MerkleTree tree = MerkleTree.ofLeaves(payloads);
    ProofVerifier verifier = new ProofVerifier(null);
    for (int i = 0; i < payloads.size(); i++) {
      SubRecordProof proof = generator.subRecordProof(head.hash(), record.hash(), i, tree);
      verifier.verifySubRecord(head.hash(), record.hash(), i, payloads.get(i), proof);
      int index = i;
      assertEquals(Failure.BAD_INCLUSION_PROOF, assertThrows(VerificationException.class,
          () -> verifier.verifySubRecord(head.hash(), record.hash(), index, payloads.get((index + 1) % 37), proof))
          .failure());
      byte[] flipped = payloads.get(i).clone();
      flipped[0] ^= 1;
      assertThrows(VerificationException.class,
          () -> verifier.verifySubRecord(head.hash(), record.hash(), index, flipped, proof));
    }
  }

  @Test
  void cache_reverseWalk_oneHeaderStepsAndHits() throws Exception {
    RecordWithBody head = capsule.chain(capsule.id(), 200, "r");
    ProofCache cache = new ProofCache(1000);
    ProofVerifier verifier = new ProofVerifier(cache);
    verifier.trust(head.record().header());
    for (int i = capsule.records.size() - 1; i >= 0; i--) {
      Hash target = capsule.records.get(i).hash();
      // A full proof from the head: the verifier stops at the first cached record, the child.
      RecordProof proof = generator.recordProof(head.hash(), target);
      verifier.verifyRecord(null, target, proof);
    }
    assertEquals(200, cache.size());
    assertTrue(cache.hits() >= 199, "hits " + cache.hits());
  }

  @Test
  void cache_neverLetsABrokenProofPass() throws Exception {
    RecordWithBody head = capsule.chain(capsule.id(), 30, "n");
    ProofCache cache = new ProofCache(10);
    ProofVerifier verifier = new ProofVerifier(cache);
    verifier.trust(head.record().header());
    Hash target = capsule.records.get(0).hash();
    List<RecordHeader> headers = new ArrayList<>(generator.recordProof(head.hash(), target).headers());
    headers.remove(headers.size() - 2);
    VerificationException e = assertThrows(VerificationException.class,
        () -> verifier.verifyRecord(null, target, new RecordProof(headers)));
    assertEquals(Failure.BROKEN_PATH, e.failure());
    assertEquals(null, cache.getIfPresent(target));
  }

  @Test
  void cache_bounded_evictsLeastRecentlyUsed() throws Exception {
    RecordWithBody head = capsule.chain(capsule.id(), 50, "b");
    ProofCache cache = new ProofCache(8);
    ProofVerifier verifier = new ProofVerifier(cache);
    for (RecordWithBody record : capsule.records) {
      verifier.verifyRecord(head.hash(), record.hash(), generator.recordProof(head.hash(), record.hash()));
      assertTrue(cache.size() <= 8);
    }
    assertEquals(8, cache.size());
  }
}
