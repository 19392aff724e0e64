package org.tensorbuffer.cli;

import java.util.Locale;
import org.tensorbuffer.AllocationStrategy;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

/**
 * picocli mixin: the {@code --strategy} option of {@code decode} and {@code einsum}; an unknown name is a usage error
 * (exit 2). The default differs per command ({@link #or}).
 */
final class StrategyOption {
    @Option(names = "--strategy", paramLabel = "S", converter = Converter.class,
            description = "Allocation strategy: none (a device allocation per tensor), reactive (BufferPool), "
                    + "proactive (TensorBuffer: every buffer reserved before the first use), planned (the first run "
                    + "recorded and planned into one arena that later runs replay). Default: proactive for decode, "
                    + "reactive for einsum.")
    AllocationStrategy strategy;

    /** The strategy given, or {@code commandDefault}. */
    AllocationStrategy or(AllocationStrategy commandDefault) {
        return strategy != null ? strategy : commandDefault;
    }

    /** {@link AllocationStrategy#parse} as a picocli converter. */
    static final class Converter implements ITypeConverter<AllocationStrategy> {
        @Override
        public AllocationStrategy convert(String value) {
            try {
                return AllocationStrategy.parse(value.trim().toLowerCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }
}
