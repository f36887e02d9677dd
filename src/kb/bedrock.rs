//! Bedrock knowledge base: Retrieve and GetKnowledgeBase, signed with SigV4.
