"""Speaking AWS's protocols to unchanged AWS clients: SigV4 verification and AWS's error shapes."""
