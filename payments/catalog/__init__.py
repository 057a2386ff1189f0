"""The catalog: plans and credit packs, versioned; accounts keep the version they bought."""
