package dev.capsulevm.proofs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The tags are part of the format (docs/FORMAT.md, "Domain tags"): fixed values, no two alike. */
class DomainTest {
  @Test
  void tagsAreTheDocumentedOnes() {
    assertEquals(0x34, Domain.PROGRAM_ID.tag());
    assertEquals(0x35, Domain.TRANSCRIPT_ENTRY.tag());
    assertEquals(0x36, Domain.INPUTS_DIGEST.tag());
    assertEquals(0x37, Domain.BALANCE_STATEMENT_SIGNATURE.tag());
    assertEquals(0x40, Domain.MEMBER_ENTRY.tag());
    assertEquals(0x41, Domain.MEMBER_ROOT.tag());
    assertEquals(0x60, Domain.SYNC_PEER_PROOF.tag());
  }

  @Test
  void noTwoDomainsShareATag() {
    long distinct = Arrays.stream(Domain.values()).mapToInt(Domain::tag).distinct().count();
    assertEquals(Domain.values().length, distinct);
  }
}
