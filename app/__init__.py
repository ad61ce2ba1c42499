"""autopatch-rollouts: Windows update rollouts through Microsoft Graph windowsUpdates."""
