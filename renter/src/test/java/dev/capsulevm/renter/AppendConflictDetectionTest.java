package dev.capsulevm.renter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proto.v1.FailureReason;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Issue 13, finding 4 (the stream's side; {@code AppendConflictTest} runs two writers on a host): an
 * append whose output lists the heads the renter expects plus others is what an honest host answers when
 * another writer appended first. The renter refuses that commit (never confirms it) and ends the run
 * with the conflict to settle, not with misbehaviour; any other difference is still misbehaviour.
 */
class AppendConflictDetectionTest {
  private final ScriptedHost host = new ScriptedHost();
  private final TestCapsule capsule = new TestCapsule();
  private final RecordWithBody r1 = capsule.append("one", 2);
  /** What this renter appends on r1. */
  private final List<RecordWithBody> mine = capsule.next("mine", 1);
  /** Another writer's record, appended on r1 first. */
  private final Hash theirs = new TestCapsule().append("theirs", 1).hash();

  private List<Hash> sorted(Hash... hashes) {
    return Stream.of(hashes).sorted().toList();
  }

  private ScriptedHost.Session appendOnly() {
    ProgramBuilder b = capsule.builder();
    b.append(mine);
    return host.start(b.build());
  }

  @Test
  void anAppendLeavingAnotherWritersHeadsTooIsRefusedAndLeftToSettle() {
    host.confirmCommits = true;
    ScriptedHost.Session s = appendOnly();
    List<Hash> after = sorted(mine.get(0).hash(), theirs);
    s.send(s.append(after, 1)).send(s.proposal(after));
    assertEquals(Boolean.FALSE, s.decision(), "the renter refuses the commit");
    s.send(s.failed(-1, FailureReason.FAILURE_REASON_REFUSED, "the renter refused the commit", 0));
    UnresolvedConflict e = assertThrows(UnresolvedConflict.class, s::result);
    assertEquals(List.of(theirs), e.extraHeads());
    assertEquals(0, e.appendIndex());
    assertNotNull(e.receiptOrNull());
    assertTrue(e.receiptOrNull().failed());
    assertFalse(s.cancelled, "ended by the refusal, with a receipt");
  }

  @Test
  void aHostThatCommitsARefusedAppendMisbehaves() {
    host.confirmCommits = true;
    ScriptedHost.Session s = appendOnly();
    List<Hash> after = sorted(mine.get(0).hash(), theirs);
    s.send(s.append(after, 1)).send(s.proposal(after)).send(s.committed(after));
    HostMisbehaviourException e = assertThrows(HostMisbehaviourException.class, s::result);
    assertTrue(e.getMessage().contains("refused"), e.getMessage());
  }

  /** With the heads stated up front, the host refuses the commit itself: the same conflict to settle. */
  @Test
  void aStatedAppendMeetingAnotherWritersHeadsIsRefusedByTheHostAndLeftToSettle() {
    ScriptedHost.Session s = appendOnly();
    assertTrue(s.headsStated());
    List<Hash> after = sorted(mine.get(0).hash(), theirs);
    s.send(s.append(after, 1));
    s.send(s.failed(-1, FailureReason.FAILURE_REASON_REFUSED, "the program leaves other heads than stated", 0));
    UnresolvedConflict e = assertThrows(UnresolvedConflict.class, s::result);
    assertEquals(List.of(theirs), e.extraHeads());
    assertNotNull(e.receiptOrNull());
    assertTrue(e.receiptOrNull().failed());
    assertNull(s.decision(), "nothing to decide");
    assertFalse(s.cancelled, "ended by the host's refusal, with a receipt");
  }

  /** A host that commits heads other than the stated ones misbehaves, whatever its receipt says. */
  @Test
  void aHostThatCommitsOtherHeadsThanStatedMisbehaves() {
    ScriptedHost.Session s = appendOnly();
    List<Hash> after = sorted(mine.get(0).hash(), theirs);
    s.send(s.append(after, 1)).send(s.committed(after));
    assertThrows(HostMisbehaviourException.class, s::result);

    // Even a receipt and an end that claim the stated heads: the append's output showed others.
    ScriptedHost.Session t = appendOnly();
    t.send(t.append(after, 1)).send(t.committed(List.of(mine.get(0).hash())));
    HostMisbehaviourException e = assertThrows(HostMisbehaviourException.class, t::result);
    assertTrue(e.getMessage().contains("stated"), e.getMessage());
  }

  @Test
  void anAppendThatDropsAnExpectedHeadIsMisbehaviour() {
    ScriptedHost.Session s = appendOnly();
    s.send(s.append(List.of(theirs), 1));
    HostMisbehaviourException e = assertThrows(HostMisbehaviourException.class, s::result);
    assertEquals(HostMisbehaviourException.Part.OUTPUT, e.part());
    assertNull(s.decision(), "nothing confirmed");
    assertTrue(s.cancelled);
  }

  @Test
  void aConflictBeforeMoreInstructionsCancelsAtOnce() {
    ProgramBuilder b = capsule.builder();
    b.append(mine);
    b.heads();
    ScriptedHost.Session s = host.start(b.build());
    s.send(s.append(sorted(mine.get(0).hash(), theirs), 1));
    UnresolvedConflict e = assertThrows(UnresolvedConflict.class, s::result);
    assertNull(e.receiptOrNull());
    assertNull(s.decision());
    assertTrue(s.cancelled);
  }

  /** The host's bound counts the heads of its view, which the output bounds: more than it allows is caught. */
  @Test
  void anAppendsBoundIsCheckedAgainstItsOutput() {
    ProgramBuilder b = capsule.builder();
    b.append(mine);
    ScriptedHost.Session s = host.start(b.build(), dev.capsulevm.pricing.Amount.of(1_000_000));
    List<Hash> after = sorted(mine.get(0).hash(), theirs);
    // Two heads after, one of them the appended record, one parent outside the append: at most 2 before.
    s.send(s.append(after, 3));
    HostMisbehaviourException e = assertThrows(HostMisbehaviourException.class, s::result);
    assertTrue(e.getMessage().contains("implies"), e.getMessage());
  }
}
