package dev.capsulevm.renter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.program.Output;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Issue 13, finding 1: a reader holding only a capsule id accepted a head signed by any key (the writer
 * check ran only {@code metadata != null}), and it became a trusted anchor in the shared proof cache.
 * Now a head is never accepted without the metadata's writer check: a builder without the metadata
 * cannot ask for heads, and the reader gets the metadata from the id alone with a {@code Metadata}
 * program whose output must hash to the id.
 */
class WriterCheckTest {
  private final ScriptedHost host = new ScriptedHost();
  private final TestCapsule capsule = new TestCapsule();
  private final RecordWithBody r1 = capsule.append("one", 2);

  /** A record of the capsule signed by a key that is not a writer: the forgery of finding 1. */
  private Record forgedHead() {
    SigningKey anyKey = SigningKey.generate();
    return Record.build(capsule.id(), List.of(r1.hash()), List.of(new byte[] {1}), 5, anyKey, true,
        capsule.source());
  }

  @Test
  void aBuilderWithoutTheMetadataCannotAskForHeadsNorReadsThatCheckSignatures() {
    ProgramBuilder idOnly = new ProgramBuilder(capsule.id(), null, null, null);
    assertThrows(IllegalStateException.class, idOnly::heads);
    assertThrows(IllegalStateException.class, () -> idOnly.readByHash(r1.hash()));
    assertThrows(IllegalStateException.class, () -> idOnly.readSubRecordAtHeight(1, 0, r1.record().header()));
    idOnly.metadata(); // what such a reader asks first
    assertEquals(1, idOnly.size());
  }

  /** The metadata a reader holding only the id fetches, verified against the id. */
  private SignedMetadata fetchMetadata() throws RenterException {
    ProgramBuilder idOnly = new ProgramBuilder(capsule.id(), null, null, null);
    idOnly.metadata();
    ScriptedHost.Session s = host.start(idOnly.build());
    s.send(s.result(new Output.Metadata(capsule.metadata))).send(s.completed());
    return ((Output.Metadata) s.result().output(0).output()).signedMetadata();
  }

  @Test
  void aReaderHoldingOnlyTheIdRefusesAHeadSignedByAnyKey() throws Exception {
    SignedMetadata metadata = fetchMetadata();
    assertEquals(capsule.metadata, metadata);
    Record forged = forgedHead();
    assertTrue(forged.hasValidSignature(), "a valid signature, by a key that may not write");
    ProgramBuilder reader = ProgramBuilder.forCapsule(capsule.id(), metadata);
    reader.heads();
    ScriptedHost.Session s = host.start(reader.build());
    s.send(s.result(new Output.Heads(List.of(forged))));
    HostMisbehaviourException e = assertThrows(HostMisbehaviourException.class, s::result);
    assertEquals(HostMisbehaviourException.Part.OUTPUT, e.part());
    assertTrue(e.getMessage().contains("not a writer"), e.getMessage());
    assertNull(host.cache.getIfPresent(forged.hash()), "the forged head never became a trusted anchor");
  }

  @Test
  void aGenuineHeadIsAcceptedAndTrusted() throws Exception {
    ProgramBuilder reader = ProgramBuilder.forCapsule(capsule.id(), fetchMetadata());
    reader.heads();
    ScriptedHost.Session s = host.start(reader.build());
    s.send(s.result(new Output.Heads(List.of(r1.record())))).send(s.completed());
    assertEquals(List.of(r1.record()), ((Output.Heads) s.result().output(0).output()).heads());
    assertEquals(r1.record().header(), host.cache.getIfPresent(r1.hash()));
  }

  @Test
  void metadataOfAnotherCapsuleIsRefused() {
    TestCapsule other = new TestCapsule();
    ProgramBuilder idOnly = new ProgramBuilder(capsule.id(), null, null, null);
    idOnly.metadata();
    ScriptedHost.Session s = host.start(idOnly.build());
    s.send(s.result(new Output.Metadata(other.metadata)));
    HostMisbehaviourException e = assertThrows(HostMisbehaviourException.class, s::result);
    assertTrue(e.getMessage().contains("hashes to"), e.getMessage());
  }

  @Test
  void aRecordByHashSignedByANonWriterIsRefusedInTheCapsulesProgram() {
    Record forged = forgedHead();
    ProgramBuilder b = capsule.builder();
    b.readByHash(forged.hash());
    ScriptedHost.Session s = host.start(b.build());
    s.send(s.result(new Output.ByHash(forged, 1)));
    HostMisbehaviourException e = assertThrows(HostMisbehaviourException.class, s::result);
    assertTrue(e.getMessage().contains("not a writer"), e.getMessage());
  }
}
