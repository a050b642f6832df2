package dev.capsulevm.renter;

import static dev.capsulevm.renter.Accounts.fundedClient;
import static dev.capsulevm.renter.EndToEndTest.subRecords;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.capsulevm.host.server.TestHost;
import dev.capsulevm.program.Output;
import dev.capsulevm.program.OutputEncoding;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordKind;
import dev.capsulevm.proofs.members.Changelog;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * A reader that starts from a capsule id alone, against a real host (issue 13, finding 1): it fetches
 * the metadata (verified against the id), then the heads, each checked against the metadata's writers,
 * then reads. A man in the middle that serves a head signed by any other key, or another capsule's
 * metadata, is caught, and the forged head never becomes a trusted anchor.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ReaderTest {
  @TempDir static Path dir;
  private TestHost host;
  private HostClient writerClient;
  private CapsuleWriter writer;
  private final Tamper tamper = new Tamper();

  @BeforeAll
  void start() throws Exception {
    host = new TestHost(TestHost.config(dir));
    writerClient = fundedClient(host, 1000);
    writer = CapsuleWriter.create(writerClient, SigningKey.generate(), SigningKey.generate(),
        SigningPolicy.EVERY_RECORD, 64, 64, "read me");
    writer.append(writerClient, subRecords("r", 5));
    writer.append(writerClient, subRecords("s", 3));
  }

  @AfterAll
  void stop() throws Exception {
    writerClient.close();
    host.close();
  }

  @Test
  void aReaderHoldingOnlyTheIdReadsVerified() throws Exception {
    try (HostClient reader = fundedClient(host, 100)) {
      SignedMetadata metadata = reader.metadata(writer.capsuleId());
      assertEquals(writer.metadata(), metadata);
      ProgramBuilder heads = reader.newProgram(writer.capsuleId());
      heads.heads();
      List<Record> got = ((Output.Heads) reader.run(heads.build()).output(0).output()).heads();
      assertEquals(writer.heads(), got);
      ProgramBuilder read = reader.newProgram(writer.capsuleId());
      read.readSubRecordAtHeight(1, 4, got.get(0).header());
      assertArrayEquals("r 4".getBytes(StandardCharsets.UTF_8), reader.run(read.build()).output(0).payload());
      assertTrue(reader.metadata(writer.capsuleId()) == metadata, "fetched once per client");
    }
  }

  @Test
  void aHeadSignedByAnyOtherKeyIsRefused() throws Exception {
    Record real = writer.heads().get(0);
    RecordHeader h = real.header();
    // Same parents, height and sizes: only the writer differs, so only the writer check can catch it.
    Record forged = Record.buildV2(h.capsuleId(), h.parents(), subRecords("forged", 3), h.timestampMillis(),
        SigningKey.generate(), true, RecordKind.DATA, writer::headerOrNull, Changelog.of(List.of()), writer.metadata());
    assertEquals(h.encodedLength(), forged.header().encodedLength());
    try (HostClient reader = fundedClient(host, 100, tamper)) {
      reader.metadata(writer.capsuleId());
      ProgramBuilder b = reader.newProgram(writer.capsuleId());
      b.heads();
      PreparedProgram program = b.build();
      tamper.set((position, r) -> r.hasResult() ? r.toBuilder().setResult(r.getResult().toBuilder()
          .setOutput(ByteString.copyFrom(OutputEncoding.encode(new Output.Heads(List.of(forged)))))).build() : r);
      try {
        HostMisbehaviourException e = assertThrows(HostMisbehaviourException.class, () -> reader.run(program));
        assertTrue(e.getMessage().contains("not a writer"), e.getMessage());
      } finally {
        tamper.clear();
      }
      assertNull(reader.proofCache().getIfPresent(forged.hash()), "never a trusted anchor");
    }
  }

  @Test
  void anotherCapsulesMetadataIsRefusedAndAnUnknownCapsuleIsNotFound() throws Exception {
    SignedMetadata other = CapsuleWriter.newMetadata(SigningKey.generate(), SigningKey.generate(),
        SigningPolicy.EVERY_RECORD, 1, 1, "other", 1);
    try (HostClient reader = fundedClient(host, 100, tamper)) {
      tamper.set((position, r) -> r.hasResult() ? r.toBuilder().setResult(r.getResult().toBuilder()
          .setOutput(ByteString.copyFrom(OutputEncoding.encode(new Output.Metadata(other))))).build() : r);
      try {
        assertThrows(HostMisbehaviourException.class, () -> reader.metadata(writer.capsuleId()));
      } finally {
        tamper.clear();
      }
      Hash unknown = CapsuleWriter.newMetadata(SigningKey.generate(), SigningKey.generate(),
          SigningPolicy.EVERY_RECORD, 1, 1, "never created", 1).capsuleId();
      ProgramFailedException e = assertThrows(ProgramFailedException.class, () -> reader.metadata(unknown));
      assertEquals(ProgramFailedException.Reason.NOT_FOUND, e.reason());
    }
  }
}
