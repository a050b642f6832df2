package dev.capsulevm.host.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.capsulevm.proto.v1.FailureReason;
import dev.capsulevm.vm.exec.ProgramStoppedException;
import org.junit.jupiter.api.Test;

/** The executor's reasons, the receipt's reason numbers and the wire's FailureReason are one numbering. */
class EndReasonTest {
  @Test
  void everyExecutorReasonHasTheWireNumberOfItsEndReason() {
    for (ProgramStoppedException.Reason reason : ProgramStoppedException.Reason.values()) {
      FailureReason wire = EndReason.of(reason).wire();
      assertEquals(wire.getNumber(), reason.wireNumber(), reason.name());
      assertEquals("FAILURE_REASON_" + reason.name(), wire.name());
    }
  }

  @Test
  void aReceiptsReasonNumberNamesTheFirstEndReasonWithIt() {
    for (FailureReason wire : FailureReason.values()) {
      if (wire == FailureReason.FAILURE_REASON_UNSPECIFIED || wire == FailureReason.UNRECOGNIZED) {
        continue;
      }
      assertEquals(wire, EndReason.ofWire(wire.getNumber()).wire(), wire.name());
    }
    assertEquals(EndReason.DATA, EndReason.ofWire(FailureReason.FAILURE_REASON_DATA.getNumber()));
    assertEquals(EndReason.PROTOCOL, EndReason.ofWire(FailureReason.FAILURE_REASON_PROTOCOL.getNumber()));
    assertEquals(EndReason.INTERNAL, EndReason.ofWire(200), "a number this host never states");
  }
}
