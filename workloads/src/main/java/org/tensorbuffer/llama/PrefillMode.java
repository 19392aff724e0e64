package org.tensorbuffer.llama;

/** How {@link Generator} runs the prompt through the model. */
public enum PrefillMode {
    /** All prompt tokens at once through {@link Transformer#prefill} ({@code [T, dim]} GEMMs); the default. */
    BATCHED,
    /** One {@link Transformer#forward} per prompt token, as llama2.c's {@code run.c}. */
    TOKEN;

    /**
     * The mode named {@code name} ({@code batched} or {@code token}, any case).
     *
     * @throws IllegalArgumentException naming the value otherwise
     */
    public static PrefillMode parse(String name) {
        return switch (name.toLowerCase(java.util.Locale.ROOT)) {
            case "batched" -> BATCHED;
            case "token" -> TOKEN;
            default -> throw new IllegalArgumentException("unknown prefill mode '" + name
                    + "' (expected batched or token)");
        };
    }
}
