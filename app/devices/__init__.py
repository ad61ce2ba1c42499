"""Devices as Graph knows them: enrollment, registration errors, rollouts that include them."""
