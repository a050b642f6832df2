package dev.capsulevm.pricing;

import java.util.Objects;

/** The most a renter will pay for each price; a price table asking more for any one of them is refused. */
public record MaxPrices(Prices max) {
  public MaxPrices {
    Objects.requireNonNull(max, "max");
  }

  /** Refuses {@code table} if any of its prices exceeds the maximum, naming the first such field. */
  public void check(PriceTable table) throws PricingException {
    Prices p = table.prices();
    field("programBase", p.programBase(), max.programBase());
    field("programPerByte", p.programPerByte(), max.programPerByte());
    for (InstructionKind kind : InstructionKind.values()) {
      field(kind + ".base", p.instruction(kind).base(), max.instruction(kind).base());
      field(kind + ".perByte", p.instruction(kind).perByte(), max.instruction(kind).perByte());
    }
    field("uploadPerByte", p.uploadPerByte(), max.uploadPerByte());
    field("downloadPerByte", p.downloadPerByte(), max.downloadPerByte());
    field("memoryPerByteTimeUnit", p.memoryPerByteTimeUnit(), max.memoryPerByteTimeUnit());
    field("storagePerByteDurationUnit", p.storagePerByteDurationUnit(), max.storagePerByteDurationUnit());
  }

  private static void field(String name, Amount asked, Amount most) throws PricingException {
    if (asked.exceeds(most)) {
      throw new PricingException(PricingException.Reason.PRICE_ABOVE_MAXIMUM,
          name + " is " + asked.units() + " units, the most accepted is " + most.units());
    }
  }
}
