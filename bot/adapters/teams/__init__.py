"""Microsoft Teams adapter (Microsoft 365 Agents SDK): consultations in the personal chat,
Adaptive Card 1.5 cards updated in place, outbound posts through our own connector client."""
